"""Unit tests of whistle.trading."""
