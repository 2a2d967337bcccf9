"""Documents: choosing the opportunity's files, checking PDFs in a child process, filling templates."""
