//! What the page shows, kept in one place: the worker writes it, every page reads it as a whole
//! (so a reloaded page, or a second one, is never behind), and each change wakes the event
//! streams through a `watch` channel.
//!
//! Also which browser tab drives the console: the first tab connected, until its last event
//! stream closes (a reload reconnects under the same tab id, kept in the tab's session
//! storage). Another tab sees the console and is told it is open elsewhere; its requests are
//! refused until the clerk moves the console to it.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use honnin_core::check::{Level, Verdict};
use serde::Serialize;
use tokio::sync::watch;
use zeroize::Zeroizing;

use crate::output::CheckOutput;

/// A message for the clerk, in both languages (the page shows the one chosen).
#[derive(Debug, Clone, Serialize)]
pub struct Message {
    pub code: &'static str,
    pub en: String,
    pub ja: String,
}

impl Message {
    pub fn new(code: &'static str, en: impl Into<String>, ja: impl Into<String>) -> Self {
        Self {
            code,
            en: en.into(),
            ja: ja.into(),
        }
    }
}

/// A PC/SC reader as the page shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReaderView {
    pub name: String,
    /// `present`, `absent`, `mute` or `unknown`.
    pub card: &'static str,
}

/// Where the current check is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// No check running.
    Idle,
    /// Reading and verifying the card.
    Reading,
    /// The card left the reader; waiting for it to come back.
    CardRemoved,
    /// Level A: the images are shown (level M: the phone's portrait), waiting for the clerk's
    /// decision.
    AwaitingDecision,
    /// Verdict shown (until the next check).
    Done,
}

/// The check in progress (or the last one).
#[derive(Debug, Clone, Serialize)]
pub struct CheckView {
    pub item: String,
    pub sender: String,
    pub addressee: String,
    pub level: Level,
    pub reader: String,
    pub bytes_read: u64,
    /// Which images are there to compare (`face`, `name`, `address`), and a number that changes
    /// with every check so the browser never shows a cached image of another card.
    pub images: Vec<&'static str>,
    pub images_id: u64,
    /// Level A: what the card alone supports, before the clerk's decision.
    pub card_verdict: Option<Verdict>,
}

/// The verdict with every check.
#[derive(Serialize)]
pub struct ResultView {
    pub output: CheckOutput,
    /// Set when the record could not be stored (the verdict stands; the clerk must know).
    pub record_error: Option<String>,
    /// Level B/C refused by the PIN guard and the sender accepts level A: offer it.
    pub offer_level_a: bool,
}

/// One line of the day's history.
#[derive(Debug, Clone, Serialize)]
pub struct HistoryRow {
    pub time: i64,
    pub item: String,
    pub level: Level,
    pub verdict: Verdict,
    pub seq: u64,
}

/// Card images of the check waiting for the clerk, as PNG; wiped when dropped.
#[derive(Default)]
pub struct Images {
    pub face: Option<Zeroizing<Vec<u8>>>,
    /// The face image's media type: `image/png` (re-encoded here) or `image/jpeg` (a phone's
    /// portrait as the issuer signed it); empty means PNG.
    pub face_type: &'static str,
    pub name: Option<Zeroizing<Vec<u8>>>,
    pub address: Option<Zeroizing<Vec<u8>>>,
}

/// The state itself.
#[derive(Serialize)]
pub struct View {
    /// The reader named with --reader, if any.
    pub reader: Option<String>,
    pub readers: Vec<ReaderView>,
    /// Why no check can start now (no reader, pcscd down, two cards…).
    pub reader_problem: Option<Message>,
    pub phase: Phase,
    pub check: Option<CheckView>,
    pub result: Option<ResultView>,
    /// Why the last request started no check, when it was not refused at once.
    pub notice: Option<Message>,
    /// The card on the reader was checked already: the next check needs the next card.
    pub card_checked: bool,
    /// The tab that drives the console (None: free, the next tab to act takes it).
    pub owner: Option<String>,
    pub history: Vec<HistoryRow>,
    #[serde(skip)]
    pub images: Option<Images>,
    #[serde(skip)]
    connections: HashMap<String, usize>,
}

/// The shared state and its change signal.
pub struct Console {
    view: Mutex<View>,
    version: watch::Sender<u64>,
}

impl Console {
    pub fn new(reader: Option<String>, history: Vec<HistoryRow>) -> Self {
        Self {
            view: Mutex::new(View {
                reader,
                readers: Vec::new(),
                reader_problem: None,
                phase: Phase::Idle,
                check: None,
                result: None,
                notice: None,
                card_checked: false,
                owner: None,
                history,
                images: None,
                connections: HashMap::new(),
            }),
            version: watch::Sender::new(0),
        }
    }

    fn lock(&self) -> MutexGuard<'_, View> {
        // A panic elsewhere must not take the page down with it: the view is plain data.
        self.view.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Changes the view and wakes every page.
    pub fn update<T>(&self, change: impl FnOnce(&mut View) -> T) -> T {
        let result = change(&mut self.lock());
        self.version.send_modify(|v| *v += 1);
        result
    }

    /// Reads the view without waking anyone.
    pub fn read<T>(&self, look: impl FnOnce(&View) -> T) -> T {
        look(&self.lock())
    }

    /// The view as the page gets it.
    pub fn snapshot(&self) -> String {
        serde_json::to_string(&*self.lock()).unwrap_or_else(|_| "{}".into())
    }

    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.version.subscribe()
    }

    /// A tab's event stream opened: the tab drives the console if no other tab does.
    pub fn connect(&self, tab: &str) {
        self.update(|view| {
            *view.connections.entry(tab.to_owned()).or_default() += 1;
            if view.owner.is_none() {
                view.owner = Some(tab.to_owned());
            }
        });
    }

    /// A tab's event stream closed: when it was the tab's last, the console is free again.
    pub fn disconnect(&self, tab: &str) {
        self.update(|view| {
            let left = view.connections.get_mut(tab).map(|count| {
                *count = count.saturating_sub(1);
                *count
            });
            if left == Some(0) {
                view.connections.remove(tab);
                if view.owner.as_deref() == Some(tab) {
                    view.owner = None;
                }
            }
        });
    }

    /// Whether `tab` may act; a free console is taken by the tab that acts first.
    pub fn may_act(&self, tab: &str) -> bool {
        let mut view = self.lock();
        match &view.owner {
            Some(owner) => owner == tab,
            None => {
                view.owner = Some(tab.to_owned());
                drop(view);
                self.version.send_modify(|v| *v += 1);
                true
            }
        }
    }

    /// The clerk moved the console to `tab`.
    pub fn take_over(&self, tab: &str) {
        self.update(|view| view.owner = Some(tab.to_owned()));
    }

    /// One image of the check waiting for the clerk, with its media type.
    pub fn image(&self, kind: &str) -> Option<(Zeroizing<Vec<u8>>, &'static str)> {
        const PNG: &str = "image/png";
        let view = self.lock();
        let images = view.images.as_ref()?;
        match kind {
            "face" => images.face.clone().map(|face| {
                let media = if images.face_type.is_empty() {
                    PNG
                } else {
                    images.face_type
                };
                (face, media)
            }),
            "name" => images.name.clone().map(|i| (i, PNG)),
            "address" => images.address.clone().map(|i| (i, PNG)),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_tab_drives_and_a_reload_keeps_it() {
        let console = Console::new(None, Vec::new());
        console.connect("tab-1");
        assert!(console.may_act("tab-1"));
        // A second tab watches but may not act.
        console.connect("tab-2");
        assert!(!console.may_act("tab-2"));
        // A reload: the new stream opens before the old one closes, under the same tab id.
        console.connect("tab-1");
        console.disconnect("tab-1");
        assert!(console.may_act("tab-1"));
        assert!(!console.may_act("tab-2"));
        // The first tab closes: the console is free, and the next tab to act takes it.
        console.disconnect("tab-1");
        assert_eq!(console.read(|v| v.owner.clone()), None);
        assert!(console.may_act("tab-2"));
        assert!(!console.may_act("tab-1"));
        console.take_over("tab-1");
        assert!(console.may_act("tab-1"));
    }

    #[test]
    fn the_snapshot_never_holds_images() {
        let console = Console::new(None, Vec::new());
        console.update(|v| {
            v.images = Some(Images {
                face: Some(Zeroizing::new(b"PNGDATA-FACE".to_vec())),
                ..Images::default()
            })
        });
        assert!(!console.snapshot().contains("PNGDATA"));
        assert_eq!(
            console.image("face").map(|(i, media)| (i.to_vec(), media)),
            Some((b"PNGDATA-FACE".to_vec(), "image/png"))
        );
        assert!(console.image("other").is_none());
    }
}
