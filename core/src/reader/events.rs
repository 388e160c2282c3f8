/// What happens during a read that the person holding the card should hear about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadEvent {
    /// Bytes of an EF read so far; `total` once the EF's header told its size.
    Progress {
        ef: u16,
        read: usize,
        total: Option<usize>,
    },
    /// The card left the field; the reader waits for it and resumes (attempt of max).
    TagLost { attempt: u32, max_attempts: u32 },
    /// The card is back and reading continues at `offset` of `ef`.
    Resumed { ef: u16, offset: usize },
    /// The link refused a response size; the reader asks for less from now on.
    ResponseSizeReduced { from: usize, to: usize },
    /// Extended-length APDUs failed on this link; short APDUs are used from now on.
    ExtendedLengthDisabled,
}

/// Receives [`ReadEvent`]s, for example to show "hold the card still".
pub trait ReadObserver {
    fn on_event(&mut self, event: &ReadEvent);
}

impl<F: FnMut(&ReadEvent)> ReadObserver for F {
    fn on_event(&mut self, event: &ReadEvent) {
        self(event)
    }
}
