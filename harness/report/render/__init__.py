"""What every report shares: number formats, colours, SVG, HTML page, Markdown, tables, plots."""
