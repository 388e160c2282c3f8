//! Plain Markdown tables, aligned for a terminal, ready to paste into an issue.

/// A table: a header row and data rows; columns after the first are right-aligned.
#[derive(Debug, Clone, Default)]
pub struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new<S: Into<String>>(header: impl IntoIterator<Item = S>) -> Self {
        Self {
            header: header.into_iter().map(Into::into).collect(),
            rows: Vec::new(),
        }
    }

    pub fn row<S: Into<String>>(&mut self, cells: impl IntoIterator<Item = S>) {
        self.rows.push(cells.into_iter().map(Into::into).collect());
    }

    pub fn render(&self) -> String {
        let columns = self.header.len();
        let mut widths: Vec<usize> = self.header.iter().map(|h| display_width(h)).collect();
        for row in &self.rows {
            for (i, cell) in row.iter().enumerate().take(columns) {
                widths[i] = widths[i].max(display_width(cell));
            }
        }
        let line = |cells: &[String]| {
            let padded: Vec<String> = (0..columns)
                .map(|i| {
                    let cell = cells.get(i).map_or("", String::as_str);
                    let pad = " ".repeat(widths[i].saturating_sub(display_width(cell)));
                    if i == 0 {
                        format!("{cell}{pad}")
                    } else {
                        format!("{pad}{cell}")
                    }
                })
                .collect();
            format!("| {} |\n", padded.join(" | "))
        };
        let mut out = line(&self.header);
        let rule: Vec<String> = widths
            .iter()
            .enumerate()
            .map(|(i, w)| {
                let dashes = "-".repeat((*w).max(3));
                if i == 0 {
                    dashes
                } else {
                    format!("{}:", &dashes[1..])
                }
            })
            .collect();
        out.push_str(&format!("| {} |\n", rule.join(" | ")));
        for row in &self.rows {
            out.push_str(&line(row));
        }
        out
    }
}

/// Terminal columns a string takes: CJK ideographs and kana take two.
fn display_width(text: &str) -> usize {
    text.chars()
        .map(|c| {
            if ('\u{2E80}'..='\u{FFEF}').contains(&c) {
                2
            } else {
                1
            }
        })
        .sum()
}

/// An integer with thousands separators: 65,538.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Milliseconds with one decimal: 1,234.5 ms.
pub fn millis(ms: f64) -> String {
    let whole = ms.trunc() as u64;
    let tenth = ((ms - ms.trunc()) * 10.0).round() as u64;
    let (whole, tenth) = if tenth == 10 {
        (whole + 1, 0)
    } else {
        (whole, tenth)
    };
    format!("{}.{tenth} ms", thousands(whole))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_grouped() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(65_538), "65,538");
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(millis(1234.56), "1,234.6 ms");
        assert_eq!(millis(0.96), "1.0 ms");
    }

    #[test]
    fn columns_align_with_wide_characters() {
        let mut table = Table::new(["operation", "APDUs"]);
        table.row(["verify 照合番号B", "4"]);
        table.row(["read token", "12"]);
        let text = table.render();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[2], "| verify 照合番号B |     4 |");
        assert_eq!(lines[3], "| read token       |    12 |");
    }
}
