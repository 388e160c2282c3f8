//! The software card behind a transport that publishes the card's statistics after every
//! exchange, so that a benchmark can read them while a typed session still borrows the card.

use std::cell::Cell;
use std::rc::Rc;

use honnin_core::transport::{CardTransport, TransportCapabilities, TransportError};
use honnin_simcard::{CardStats, SoftwareCard};

/// The card's statistics as of the last exchange, readable from outside the session.
#[derive(Debug, Clone, Default)]
pub struct StatsProbe(Rc<Cell<CardStats>>);

impl StatsProbe {
    pub fn get(&self) -> CardStats {
        self.0.get()
    }
}

/// A [`SoftwareCard`] that updates a [`StatsProbe`] after each exchange.
pub struct MeteredCard {
    card: SoftwareCard,
    probe: StatsProbe,
}

impl MeteredCard {
    pub fn new(card: SoftwareCard) -> Self {
        let probe = StatsProbe::default();
        probe.0.set(card.stats());
        Self { card, probe }
    }

    pub fn probe(&self) -> StatsProbe {
        self.probe.clone()
    }

    pub fn card(&self) -> &SoftwareCard {
        &self.card
    }
}

impl CardTransport for MeteredCard {
    fn capabilities(&self) -> TransportCapabilities {
        self.card.capabilities()
    }

    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, TransportError> {
        let answer = self.card.transmit(command);
        self.probe.0.set(self.card.stats());
        answer
    }

    fn reconnect(&mut self) -> Result<(), TransportError> {
        self.card.reconnect()
    }
}
