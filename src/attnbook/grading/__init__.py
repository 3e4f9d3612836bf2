"""The autograder engine: parse submissions, run student code in a sandbox, compare, report."""
