"""The only code that touches the disk, SQLite, HTTP, WebSockets and watchdog."""
