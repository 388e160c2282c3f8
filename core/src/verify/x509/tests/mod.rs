//! Rule-by-rule tests: each negative test uses a certificate that breaks exactly one rule.

mod anchors;
mod attributes;
mod crl;
mod crl_after_the_fact;
mod end_entity;
mod fixtures;
mod malformed;
mod path;
mod pki;
