"""Reports: tables, charts, markdown and self-contained HTML from run directories."""
