//! The record fields of a certificate that people enter, as one value: filled from the flags
//! and the organization file once (`settings`), applied to every certificate (wipe and purge).

use super::{Certificate, Person, Validation};

/// The record fields of a certificate that people enter (NIST SP 800-88 App. C / App. G):
/// the person performing, the media's asset/source/classification/backup, the destination,
/// notes and the validation block. Empty ones stay empty, never left out.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct Record {
    pub operator: Person,
    pub asset_tag: String,
    pub media_source: String,
    pub classification: String,
    /// `yes`, `no`, `unknown` or empty.
    pub data_backed_up: String,
    pub backup_location: String,
    pub post_classification: String,
    pub destination: String,
    pub notes: Vec<String>,
    pub validation: Validation,
    /// What the engine calls the machine ([`super::Host::node`]).
    pub node: std::collections::BTreeMap<String, String>,
}

impl Record {
    /// Fills a certificate's record fields (its notes get the record's notes appended).
    pub fn apply(&self, c: &mut Certificate) {
        c.operator = self.operator.clone();
        c.media.asset_tag = self.asset_tag.clone();
        c.media.source = self.media_source.clone();
        c.media.classification = self.classification.clone();
        c.media.data_backed_up = self.data_backed_up.clone();
        c.media.backup_location = self.backup_location.clone();
        c.post_sanitization_classification = self.post_classification.clone();
        c.destination = self.destination.clone();
        c.notes.extend(self.notes.iter().cloned());
        c.validation = self.validation.clone();
        c.host.node = self.node.clone();
    }
}
