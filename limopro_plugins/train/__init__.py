"""Training data: LLaMA-Factory records from any supported schema, and their dataset_info registration."""
