//! The reader links benchmarked: what one response may carry.

use honnin_simcard::LinkConfig;

/// A reader link: a label for tables and the software card's link configuration. The core learns
/// the limit from the transport's capabilities, as it would from a real reader's.
#[derive(Debug, Clone, Copy)]
pub struct Link {
    /// Short, for table headers.
    pub label: &'static str,
    pub description: &'static str,
    pub config: LinkConfig,
}

impl Link {
    /// Short APDUs, Le 256: the common reader.
    pub const SHORT_256: Self = Self {
        label: "short 256",
        description: "short APDUs, Le up to 256",
        config: LinkConfig::SHORT_ONLY,
    };
    /// Extended length, up to 65,536 data bytes per response (65,538 with the status word).
    pub const EXTENDED_65536: Self = Self {
        label: "ext 65536",
        description: "extended length, responses up to 65,538 bytes (65,536 data)",
        config: LinkConfig::EXTENDED,
    };

    /// Every link of the per-operation table: short APDUs with the full Le 256 and with readers
    /// limited to 224 and 128 data bytes, extended length limited to 1,024, 4,096 and 65,536.
    pub fn all() -> [Link; 6] {
        [
            Self::SHORT_256,
            Self::short_limited(
                "short 224",
                "short APDUs, reader limited to 224 data bytes",
                224,
            ),
            Self::short_limited(
                "short 128",
                "short APDUs, reader limited to 128 data bytes",
                128,
            ),
            Self::extended_limited(
                "ext 1024",
                "extended length, responses up to 1,024 data bytes",
                1024,
            ),
            Self::extended_limited(
                "ext 4096",
                "extended length, responses up to 4,096 data bytes",
                4096,
            ),
            Self::EXTENDED_65536,
        ]
    }

    /// The two links the per-level tables compare.
    pub fn short_and_extended() -> [Link; 2] {
        [Self::SHORT_256, Self::EXTENDED_65536]
    }

    /// Largest data bytes in one response.
    pub fn max_data(&self) -> usize {
        self.config.max_response_len.saturating_sub(2)
    }

    const fn short_limited(label: &'static str, description: &'static str, data: usize) -> Self {
        Self {
            label,
            description,
            config: LinkConfig {
                max_response_len: data + 2,
                ..LinkConfig::SHORT_ONLY
            },
        }
    }

    const fn extended_limited(label: &'static str, description: &'static str, data: usize) -> Self {
        Self {
            label,
            description,
            config: LinkConfig {
                max_response_len: data + 2,
                ..LinkConfig::EXTENDED
            },
        }
    }
}
