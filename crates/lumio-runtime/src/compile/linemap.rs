//! Maps positions in the generated JavaScript back to the TypeScript source, so stack
//! traces name the lines a developer wrote.

/// For each generated line, `(generated column, source line, source column)` points,
/// sorted by column; all zero-based.
#[derive(Debug, Clone, Default)]
pub struct LineMap {
    lines: Vec<Vec<(u32, u32, u32)>>,
}

impl LineMap {
    /// Builds the map from `(dst_line, dst_col, src_line, src_col)` source-map tokens.
    pub fn from_tokens(tokens: impl Iterator<Item = (u32, u32, u32, u32)>) -> Self {
        let mut lines: Vec<Vec<(u32, u32, u32)>> = Vec::new();
        for (dst_line, dst_col, src_line, src_col) in tokens {
            let idx = dst_line as usize;
            if lines.len() <= idx {
                lines.resize_with(idx + 1, Vec::new);
            }
            lines[idx].push((dst_col, src_line, src_col));
        }
        for line in &mut lines {
            line.sort_unstable();
        }
        Self { lines }
    }

    /// The one-based source `(line, column)` of a one-based generated position.
    pub fn lookup(&self, line: u32, col: u32) -> Option<(u32, u32)> {
        let points = self.lines.get(line.checked_sub(1)? as usize)?;
        let col = col.saturating_sub(1);
        let point = points
            .iter()
            .rev()
            .find(|p| p.0 <= col)
            .or_else(|| points.first())?;
        Some((point.1 + 1, point.2 + 1))
    }
}

/// One-based line and column (in characters) of a byte offset.
pub fn line_col(source: &str, offset: u32) -> (u32, u32) {
    let offset = (offset as usize).min(source.len());
    let before = source.get(..offset).unwrap_or(source);
    let line = before.matches('\n').count() as u32 + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let col = before[line_start..].chars().count() as u32 + 1;
    (line, col)
}
