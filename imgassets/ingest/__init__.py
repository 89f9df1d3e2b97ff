"""The producer side: images and video frames prepared, uploaded to S3 and announced on Kafka."""
