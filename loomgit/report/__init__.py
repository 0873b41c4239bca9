"""Reports of eval runs: JUnit XML for CI systems, Markdown for pull-request comments."""
