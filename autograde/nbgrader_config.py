"""nbgrader configuration for the course: `solutions/` is the source, `notebooks/` the release."""

from pathlib import Path

c = get_config()  # noqa: F821  (provided by nbgrader when it loads this file)

COURSE_ROOT = Path(__file__).resolve().parents[1]
c.CourseDirectory.root = str(COURSE_ROOT)
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "notebooks"
c.CourseDirectory.course_id = "attnbook"
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.enforce_metadata = True
c.GenerateAssignment.create_assignment = True
