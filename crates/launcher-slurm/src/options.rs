//! `sbatch` options: the one model is the `slurm-options` crate's
//! ([`SlurmOptions`]), re-exported here for users of this crate.

pub use slurm_options::{
    OPTIONS, OptionError, OptionInfo, OptionKind, PASSTHROUGH_OPTIONS, RESERVED_OPTIONS,
    SlurmOptions, SlurmValue, derive, is_sbatch_option, sbatch_line_value, sbatch_option_names,
    slurm_time,
};
