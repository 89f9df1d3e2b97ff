"""Dagster definitions by domain: one module per asset with its checks (raw_images, detections,
detection_summary), the step that materializes the first two together (image_batch), what they share (batch),
the Kafka sensor, the run status sensors (run_failures), the job,
the partitions and the resources. `imgassets.definitions` loads them."""
