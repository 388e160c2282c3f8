use std::ops::Sub;

/// What a piece of work cost on the air.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    pub apdus: u32,
    /// Command bytes, header to Le.
    pub bytes_sent: u64,
    /// Response bytes, data and status word.
    pub bytes_received: u64,
    pub tag_losses: u32,
}

impl Counters {
    pub fn bytes_on_air(&self) -> u64 {
        self.bytes_sent + self.bytes_received
    }
}

impl Sub for Counters {
    type Output = Counters;

    fn sub(self, earlier: Counters) -> Counters {
        Counters {
            apdus: self.apdus - earlier.apdus,
            bytes_sent: self.bytes_sent - earlier.bytes_sent,
            bytes_received: self.bytes_received - earlier.bytes_received,
            tag_losses: self.tag_losses - earlier.tag_losses,
        }
    }
}

/// Cost of one named card operation ("read authentication certificate", …).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperationStats {
    pub operation: &'static str,
    pub counters: Counters,
}
