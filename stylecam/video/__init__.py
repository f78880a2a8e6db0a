"""Video files: decode and encode with PyAV (io), and the offline pipeline."""
