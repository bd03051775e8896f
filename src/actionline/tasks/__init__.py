"""What each task means: its datasets, training plan, prediction file formats, evaluation and report sections."""
