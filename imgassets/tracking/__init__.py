"""From detections to objects: following one source's frames into tracks and events (follow), and the hour's
track and event tables (tables)."""
