"""The book's experiments: toy tasks, models, training loops with a cache, measurements and plots."""
