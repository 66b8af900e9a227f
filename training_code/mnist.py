"""MNIST training and serving script run by SageMaker's PyTorch containers (placeholder)."""
