"""stylecam: real-time arbitrary style transfer (AdaIN) for cameras, videos and images."""

__version__ = "0.1.0"
