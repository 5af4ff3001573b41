"""StudySync services."""
