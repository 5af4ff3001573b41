"""The progress service: offline progress batches, read-back, receipts and the feature flag."""
