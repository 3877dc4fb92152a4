"""Perimeter video analyzer: read camera feeds, judge each camera's picture health, publish it."""
