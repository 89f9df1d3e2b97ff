"""The domain core: configuration, the message and record schemas, the S3 key layout, stores, images and tables.
It imports neither Dagster nor the code that runs it (docs/architecture.md, "Packages")."""
