"""mnist-tui: train, watch and inspect PyTorch MNIST classifiers in the terminal."""

__version__ = "0.1.0"  # pyproject.toml reads it from here
