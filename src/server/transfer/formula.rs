//! The formula guard of CSV exports: a cell that starts with `=`, `+`, `-` or `@` (or a tab or
//! carriage return, which some spreadsheets skip before looking) would run as a formula when
//! the file is opened (CSV injection), so the export writes it with a leading `'`, which
//! spreadsheets show as text. Import takes that one `'` off again, so an exported file
//! re-imports to the same leads.

use std::borrow::Cow;

fn is_trigger(c: char) -> bool {
    matches!(c, '=' | '+' | '-' | '@' | '\t' | '\r')
}

/// The cell as an export writes it.
pub fn guard(cell: &str) -> Cow<'_, str> {
    if cell.starts_with(is_trigger) {
        Cow::Owned(format!("'{cell}"))
    } else {
        Cow::Borrowed(cell)
    }
}

/// The cell as it was before [`guard`]: only a `'` that guards a trigger is removed.
pub fn unguard(cell: &str) -> &str {
    match cell.strip_prefix('\'') {
        Some(rest) if rest.starts_with(is_trigger) => rest,
        _ => cell,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formula_triggers_are_neutralised_and_restored() {
        for cell in ["=HYPERLINK(\"http://x\")", "+1 555 0100", "-2", "@SUM(A1)", "\t=1", "\r=1"] {
            let guarded = guard(cell);
            assert!(guarded.starts_with('\''), "{cell:?}");
            assert_eq!(unguard(&guarded), cell);
        }
        for cell in ["Acme", "", "'quoted'", "a=b", "O'Brien"] {
            assert_eq!(guard(cell), cell);
            assert_eq!(unguard(cell), cell, "{cell:?} is left alone");
        }
    }
}
