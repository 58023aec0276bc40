//! Line codes (docs/client-database.md#client-database-contract): the suffix of a line's tables, `[a-z0-9_]{1,40}`.
//! When a client leaves `production_line.line_code` NULL it is derived from the
//! line name: accents folded to ASCII, lower case, each run of other characters
//! becomes one `_`, no `_` at either end — `Línea 1 – Envasado` → `linea_1_envasado`.

/// Longest line code; `detection_line_` + 40 stays well under MySQL's 64.
pub const MAX_LINE_CODE_LEN: usize = 40;

/// True for `[a-z0-9_]{1,40}`.
pub fn is_valid_line_code(code: &str) -> bool {
    !code.is_empty()
        && code.len() <= MAX_LINE_CODE_LEN
        && code
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// The line code derived from a line name, or `None` when nothing usable is left
/// (a name of only symbols or of letters with no ASCII folding).
pub fn line_code(name: &str) -> Option<String> {
    let folded = fold_to_ascii(name).to_ascii_lowercase();
    let mut code = String::with_capacity(folded.len());
    let mut pending_sep = false;
    for c in folded.chars() {
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            if pending_sep && !code.is_empty() {
                code.push('_');
            }
            pending_sep = false;
            code.push(c);
        } else {
            pending_sep = true;
        }
    }
    if code.len() > MAX_LINE_CODE_LEN {
        code.truncate(MAX_LINE_CODE_LEN);
        while code.ends_with('_') {
            code.pop();
        }
    }
    if is_valid_line_code(&code) {
        Some(code)
    } else {
        None
    }
}

/// Folds the Latin-1 Supplement and Latin Extended-A letters to ASCII
/// (`á` → `a`, `Ñ` → `N`, `ß` → `ss`, `Œ` → `OE`); other characters pass through.
pub fn fold_to_ascii(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match fold_char(c) {
            Some(f) => out.push_str(f),
            None => out.push(c),
        }
    }
    out
}

fn fold_char(c: char) -> Option<&'static str> {
    let cp = c as u32;
    if cp < 0xC0 {
        return None;
    }
    if (0xC0..=0xFF).contains(&cp) {
        return LATIN1[(cp - 0xC0) as usize];
    }
    if (0x100..=0x17F).contains(&cp) {
        return Some(LATIN_EXT_A[(cp - 0x100) as usize]);
    }
    None
}

/// U+00C0 … U+00FF.
#[rustfmt::skip]
const LATIN1: [Option<&str>; 64] = [
    Some("A"), Some("A"), Some("A"), Some("A"), Some("A"), Some("A"), Some("AE"), Some("C"), // C0-C7
    Some("E"), Some("E"), Some("E"), Some("E"), Some("I"), Some("I"), Some("I"), Some("I"), // C8-CF
    Some("D"), Some("N"), Some("O"), Some("O"), Some("O"), Some("O"), Some("O"), None,      // D0-D7 (× stays)
    Some("O"), Some("U"), Some("U"), Some("U"), Some("U"), Some("Y"), Some("TH"), Some("ss"), // D8-DF
    Some("a"), Some("a"), Some("a"), Some("a"), Some("a"), Some("a"), Some("ae"), Some("c"), // E0-E7
    Some("e"), Some("e"), Some("e"), Some("e"), Some("i"), Some("i"), Some("i"), Some("i"), // E8-EF
    Some("d"), Some("n"), Some("o"), Some("o"), Some("o"), Some("o"), Some("o"), None,      // F0-F7 (÷ stays)
    Some("o"), Some("u"), Some("u"), Some("u"), Some("u"), Some("y"), Some("th"), Some("y"), // F8-FF
];

/// U+0100 … U+017F.
#[rustfmt::skip]
const LATIN_EXT_A: [&str; 128] = [
    "A", "a", "A", "a", "A", "a", "C", "c", "C", "c", "C", "c", "C", "c", "D", "d", // 100-10F
    "D", "d", "E", "e", "E", "e", "E", "e", "E", "e", "E", "e", "G", "g", "G", "g", // 110-11F
    "G", "g", "G", "g", "H", "h", "H", "h", "I", "i", "I", "i", "I", "i", "I", "i", // 120-12F
    "I", "i", "IJ", "ij", "J", "j", "K", "k", "k", "L", "l", "L", "l", "L", "l", "L", // 130-13F
    "l", "L", "l", "N", "n", "N", "n", "N", "n", "n", "N", "n", "O", "o", "O", "o", // 140-14F
    "O", "o", "OE", "oe", "R", "r", "R", "r", "R", "r", "S", "s", "S", "s", "S", "s", // 150-15F
    "S", "s", "T", "t", "T", "t", "T", "t", "U", "u", "U", "u", "U", "u", "U", "u", // 160-16F
    "U", "u", "U", "u", "W", "w", "Y", "y", "Y", "Z", "z", "Z", "z", "Z", "z", "s", // 170-17F
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_example() {
        assert_eq!(
            line_code("Línea 1 – Envasado").as_deref(),
            Some("linea_1_envasado")
        );
    }

    #[test]
    fn folding_and_separators() {
        assert_eq!(
            line_code("  Línea 2 -- Etiquetado!! ").as_deref(),
            Some("linea_2_etiquetado")
        );
        assert_eq!(
            line_code("Paletizado Ñandú (Zona Sur)").as_deref(),
            Some("paletizado_nandu_zona_sur")
        );
        assert_eq!(line_code("Straße/Größe").as_deref(), Some("strasse_grosse"));
        assert_eq!(line_code("Łódź Œuvre ĳ").as_deref(), Some("lodz_oeuvre_ij"));
        assert_eq!(
            line_code("ÀÉÎÕÜ àéîõü Çç").as_deref(),
            Some("aeiou_aeiou_cc")
        );
        assert_eq!(line_code("LINE_7").as_deref(), Some("line_7"));
        assert_eq!(line_code("a___b").as_deref(), Some("a_b"));
    }

    #[test]
    fn nothing_usable() {
        assert_eq!(line_code(""), None);
        assert_eq!(line_code(" – ¡! "), None);
        assert_eq!(line_code("线路"), None);
    }

    #[test]
    fn long_names_are_cut_without_trailing_underscore() {
        let code = line_code("Línea de envasado automático número 12 – sección norte").unwrap();
        assert!(code.len() <= MAX_LINE_CODE_LEN, "{code}");
        assert!(!code.ends_with('_'));
        assert!(is_valid_line_code(&code));
        assert!(code.starts_with("linea_de_envasado_automatico_numero_12"));
    }

    #[test]
    fn validation() {
        assert!(is_valid_line_code("linea_1"));
        assert!(is_valid_line_code(&"a".repeat(40)));
        assert!(!is_valid_line_code(&"a".repeat(41)));
        assert!(!is_valid_line_code(""));
        assert!(!is_valid_line_code("Linea"));
        assert!(!is_valid_line_code("a-b"));
        assert!(!is_valid_line_code("a`;drop"));
    }

    #[test]
    fn tables_cover_their_ranges() {
        for cp in 0xC0u32..=0x17F {
            let c = char::from_u32(cp).unwrap();
            if let Some(f) = fold_char(c) {
                assert!(f.bytes().all(|b| b.is_ascii_alphabetic()), "{c} -> {f}");
                // Case is kept: an upper-case letter folds to upper case.
                if c.is_uppercase() && cp != 0x130 {
                    assert!(f.chars().next().unwrap().is_ascii_uppercase(), "{c} -> {f}");
                }
            }
        }
    }
}
