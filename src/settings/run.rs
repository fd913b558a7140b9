//! `gridsleuth run` (and `fit`): [`DetectFlags`] + the `[cluster]` and `[score]` tables ->
//! the detection settings (range-checked), with the ingest and balance settings ->
//! [`RunOptions`]; `run --model FILE` reads the model, refuses other settings or another grid,
//! and puts the readings on the model's grid.

use super::*;

/// Detection flags of `gridsleuth run` (override the `[cluster]` and `[score]` tables).
#[derive(Debug, Clone, Default)]
pub struct DetectFlags {
    pub seed: Option<u64>,
    pub clusters: Option<usize>,
    pub cluster_method: Option<String>,
    pub flag_threshold: Option<f64>,
    pub threads: Option<usize>,
    /// Score with this model file (`run --model`).
    pub model: Option<PathBuf>,
}

/// `gridsleuth run`: flags + config (read once) -> ingest, detection and balance settings.
pub fn run_options(
    args: &IngestFlags,
    detect: &DetectFlags,
    show_progress: bool,
) -> Result<RunOptions, SettingsError> {
    let src = Sources::load(args.config.as_deref())?;
    let mut ingest = ingest_from(args, &src, show_progress)?;
    let tz = ingest.long.time.tz;
    let detect_cfg = detect_from(detect, &src.file, tz)?;
    let balance = balance_from(&BalanceFlags::default(), &src.file.balance, tz)?;
    let model = match &detect.model {
        Some(path) => Some(model_input(path, &mut ingest, &detect_cfg)?),
        None => None,
    };
    Ok(RunOptions {
        ingest,
        out: args.out.clone(),
        write_matrix: args.write_matrix,
        detect: detect_cfg,
        balance,
        threads: detect.threads,
        model,
    })
}

/// `run --model FILE`: reads the model, refuses one of another format or fitted with other
/// settings, and puts the readings on the model's grid (its window and interval; a window or
/// interval given that differs from it is refused).
fn model_input(
    path: &Path,
    ingest: &mut IngestOptions,
    detect: &crate::detect::DetectConfig,
) -> Result<crate::app::ModelInput, SettingsError> {
    let model = crate::model::Model::read(path)?;
    model.check_settings(path, &detect.model_settings(ingest.weather.is_some()))?;
    let g = model.grid;
    let window = (g.start, g.end());
    let refuse = |key: &str, what: String| SettingsError::OutOfRange {
        key: key.into(),
        value: what,
        message: format!("differs from the grid of the model {}", path.display()),
        fix: "leave it out: a run with --model reads its readings onto the model's grid".into(),
    };
    if let Some(w) = ingest.acc.window {
        if w != window {
            return Err(refuse(
                "--start/--end",
                format!("{}..{} (unix seconds)", w.0, w.1),
            ));
        }
    }
    if let Some(iv) = ingest.acc.interval_secs {
        if iv != g.interval_secs {
            return Err(refuse("--interval", format!("{} s", iv)));
        }
    }
    ingest.acc.window = Some(window);
    ingest.acc.interval_secs = Some(g.interval_secs);
    Ok(crate::app::ModelInput {
        path: path.to_path_buf(),
        model,
    })
}

/// The `[cluster]` and `[score]` tables with the detection flags applied, range-checked.
pub(crate) fn detect_from(
    args: &DetectFlags,
    file: &ConfigFile,
    tz: chrono_tz::Tz,
) -> Result<crate::detect::DetectConfig, SettingsError> {
    let mut cluster = file.cluster.clone();
    let mut score = file.score.clone();
    if let Some(s) = args.seed {
        cluster.seed = s;
    }
    if let Some(k) = args.clusters {
        cluster.k = k;
    }
    if let Some(m) = &args.cluster_method {
        cluster.method = match m.as_str() {
            "kmeans" => crate::cluster::ClusterMethod::Kmeans,
            "gmm" => crate::cluster::ClusterMethod::Gmm,
            other => {
                return Err(invalid(
                    "--cluster-method",
                    format!("{other:?} is not kmeans or gmm"),
                ))
            }
        };
    }
    if let Some(t) = args.flag_threshold {
        score.flag_threshold = t;
    }
    check::cluster(&cluster, args.clusters.is_some())?;
    check::score(&score, args.flag_threshold.is_some())?;
    Ok(crate::detect::DetectConfig {
        tz: Some(tz),
        cluster,
        score,
    })
}
