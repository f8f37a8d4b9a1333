"""Everything that touches files and codecs: images with Pillow, video with PyAV."""
