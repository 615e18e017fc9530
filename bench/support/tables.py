"""Plain-text tables for the benchmarks' printed figures."""


def format_table(header, rows):
    """Return rows of cells as text, the first column left-aligned and the others right-aligned."""
    cells = [list(map(str, header))] + [[str(cell) for cell in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]

    def line(row):
        return "  ".join(
            cell.ljust(width) if i == 0 else cell.rjust(width)
            for i, (cell, width) in enumerate(zip(row, widths))
        )

    return "\n".join([line(cells[0]), line(["-" * width for width in widths])] + [line(row) for row in cells[1:]])
