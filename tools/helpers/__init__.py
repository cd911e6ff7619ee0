"""What the other tools share: named roots for portable paths, a headless browser."""
