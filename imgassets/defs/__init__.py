"""Dagster definitions by domain: one module per asset with its checks (raw_images, detections,
detection_summary), what they share (batch), the Kafka sensor, the run status sensors (run_failures), the job,
the partitions and the resources. `imgassets.definitions` loads them."""
