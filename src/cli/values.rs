//! Command-line twins of the library's choice enums: clap's `ValueEnum` is derived here, never
//! on a library type, and each converts into the library enum with the same variant names (so
//! the accepted values, `kwh`, `shift-forward`, `nem12` ..., are the library's names).

/// Declares a `ValueEnum` twin of a library enum and its conversion.
macro_rules! twin {
    ($(#[$meta:meta])* $name:ident => $target:path { $($(#[$vmeta:meta])* $variant:ident),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
        pub enum $name {
            $($(#[$vmeta])* $variant),+
        }

        impl From<$name> for $target {
            fn from(v: $name) -> Self {
                use $target as T;
                match v {
                    $($name::$variant => T::$variant),+
                }
            }
        }
    };
}

twin! {
    /// Which reader to use.
    ReadingsFormat => crate::ingest::ReadingsFormat {
        /// By extension and content: `.parquet`/`.pq` Parquet, NEM12 by its 100/200 records,
        /// anything else long-form CSV (gzip allowed).
        Auto,
        Csv,
        Parquet,
        Wide,
        Nem12,
    }
}

twin! {
    /// Unit of the value column.
    ValueUnit => crate::ingest::ValueUnit {
        /// kWh per interval (default).
        Kwh,
        /// Wh per interval.
        Wh,
        /// Average kW over the interval.
        Kw,
        /// Average W over the interval.
        W,
    }
}

twin! {
    /// What to do with a naive local time that occurs twice (the DST fall-back hour).
    AmbiguousPolicy => crate::ingest::AmbiguousPolicy {
        /// First reading of a meter at that local time is the earlier instant, the second the later
        /// one (what a meter exporting local clock time actually means). Default.
        Sequential,
        /// Always the earlier instant (the first pass through the hour).
        Earliest,
        /// Always the later instant.
        Latest,
        /// Quarantine readings at ambiguous times.
        Reject,
    }
}

twin! {
    /// What to do with a naive local time that does not exist (the DST spring-forward gap).
    GapPolicy => crate::ingest::GapPolicy {
        /// Quarantine the reading: a local time inside the gap is an export error. Default.
        Reject,
        /// Move it forward by the gap length (02:30 -> 03:30 on a one-hour gap).
        ShiftForward,
    }
}

twin! {
    /// Whether timestamps label the start or the end of their interval.
    StampMark => crate::settings::StampMark {
        Start,
        End,
    }
}

twin! {
    /// Which feeders get a chart.
    ChartSelection => crate::grid_analysis::ChartSelection {
        /// Every feeder.
        All,
        /// Flagged feeders only.
        Flagged,
        /// No charts.
        None,
    }
}

twin! {
    /// How meters are grouped into regions.
    GroupBy => crate::grid_analysis::aggregate::GroupBy {
        /// One region per feeder (the meters file's `feeder_id`).
        Feeder,
        /// One region per tariff.
        Tariff,
        /// Every meter together.
        All,
    }
}

twin! {
    /// Unit of the load values.
    LoadUnit => crate::grid_analysis::load_series::LoadUnit {
        Mw,
        Kw,
        W,
        /// Energy per interval.
        Mwh,
        Kwh,
    }
}
