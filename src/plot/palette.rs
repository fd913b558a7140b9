//! Every colour of the charts, in one place: the meter charts' (report pages) and the grid
//! charts' (feeder balance, regional drop) palettes, the grid lines, and the conversion from
//! the plain [`Rgb`] the grid charts' data model holds to plotters' colour.

use plotters::style::RGBColor;

/// An sRGB colour (the grid charts' data model is plain data, free of plotters types).
pub type Rgb = (u8, u8, u8);

/// plotters' colour of an [`Rgb`].
pub const fn rgb(c: Rgb) -> RGBColor {
    RGBColor(c.0, c.1, c.2)
}

// Meter charts (report pages).
/// A meter's load.
pub const LOAD_COLOUR: RGBColor = RGBColor(0x1F, 0x4E, 0x79);
/// The detected onset.
pub const ONSET_COLOUR: RGBColor = RGBColor(0xC0, 0x39, 0x2B);
/// The rig's level since the onset.
pub const LEVEL_COLOUR: RGBColor = RGBColor(0xE6, 0x7E, 0x22);
/// Grid lines of the meter charts.
pub const GRID_COLOUR: RGBColor = RGBColor(0xDD, 0xDD, 0xDD);
/// Labels and axis text.
pub const TEXT_COLOUR: RGBColor = RGBColor(0x33, 0x33, 0x33);
/// A heatmap cell without data.
pub const MISSING_COLOUR: RGBColor = RGBColor(0xEE, 0xEE, 0xEE);

// Grid charts (feeder balance, regional drop): the matplotlib "tab10" hues.
pub const BLUE: Rgb = (31, 119, 180);
pub const ORANGE: Rgb = (230, 120, 20);
pub const GREEN: Rgb = (44, 160, 44);
pub const RED: Rgb = (214, 39, 40);
pub const PURPLE: Rgb = (148, 103, 189);
pub const GREY: Rgb = (150, 150, 150);
pub const DARK: Rgb = (40, 40, 40);
/// Fine and bold grid lines of the grid charts.
pub const GRID_LIGHT: RGBColor = RGBColor(238, 238, 238);
pub const GRID_BOLD: RGBColor = RGBColor(215, 215, 215);
