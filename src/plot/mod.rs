//! Chart helpers on plotters, shared by the reports. Each chart module turns plain data into an
//! SVG string (inline in HTML: crisp, fonts left to the browser) and PNG bytes (for case files).
//!
//! PNG text is rasterised with an embedded font, never a system one: [`register_font`]
//! registers DejaVu Sans (`assets/fonts/DejaVuSans.ttf`, Bitstream Vera licence in
//! `assets/fonts/LICENSE-DejaVu.txt`) as plotters' `sans-serif` family. Call it before drawing;
//! it is idempotent and cheap after the first call.
//!
//! Shared by the meter charts (`meter_*`) and the grid charts (`grid_charts`): every colour
//! ([`palette`]), gap splitting ([`gaps`]) and the embedded font.

pub mod case_history;
pub mod gaps;
pub mod grid_charts;
pub mod meter_baseload;
pub mod meter_charts;
pub mod meter_heatmap;
pub mod palette;

use std::sync::Once;

use plotters::style::FontStyle;

/// DejaVu Sans, embedded so PNG rendering does not depend on the machine's fonts.
pub static DEJAVU_SANS: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");

/// The family name plotters resolves `FontFamily::SansSerif` to.
pub const FONT_FAMILY: &str = "sans-serif";

static REGISTER: Once = Once::new();

/// Registers the embedded DejaVu Sans as `sans-serif` (normal style; bold and italic fall back
/// to it). Safe to call from many threads and many times. The bytes are a compile-time
/// constant checked by a test, so a failure here cannot depend on input; if it ever happened,
/// drawing text would return plotters' `FontUnavailable` error rather than panic.
pub fn register_font() {
    REGISTER.call_once(|| {
        let _ = plotters::style::register_font(FONT_FAMILY, FontStyle::Normal, DEJAVU_SANS);
    });
}

#[cfg(test)]
mod tests {
    #[test]
    fn embedded_font_parses_and_registers() {
        assert!(plotters::style::register_font(
            super::FONT_FAMILY,
            plotters::style::FontStyle::Normal,
            super::DEJAVU_SANS
        )
        .is_ok());
        super::register_font();
    }
}
