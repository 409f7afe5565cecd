"""GAN Lab: train small GANs live and see what weight regularization does to them."""

__version__ = "0.1.0"
