//! The monthly FinOps report. [`model`] turns typed query rows into a [`MonthlyReport`] (pure; [`gather`] is the
//! one function that asks the query session and the recommender for those rows). [`render`] writes it as HTML
//! (one self-contained file: inline CSS, an inline SVG chart from [`chart`], no scripts), Markdown, JSON or CSV,
//! each generic over `W: Write`, with figures formatted for people by [`format`]. For email, the HTML shows the
//! chart as a PNG that [`raster`] draws from the same SVG (Gmail and Outlook desktop drop inline SVG). This module
//! reads no clock, no files and no network: the CLI picks the month and the output, and `notify` sends it.

pub mod chart;
pub mod format;
pub mod model;
pub mod raster;
pub mod render;

pub use model::{Error, GatherOptions, MonthlyReport, ReportInputs, gather};
pub use render::{EmailHtml, ReportFormat, render, render_email_html, subject};
