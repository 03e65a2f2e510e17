//! The Python module `django_reqlog._native`. Every method returns None to
//! decline (the caller then uses the reference implementation): text with
//! lone surrogates, which no Rust string can hold, or a lone surrogate
//! escape inside JSON. The GIL is held throughout: for events of a few
//! kilobytes, releasing it costs more than it gives.

use std::borrow::Cow;

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::types::{PyList, PyString, PyTuple};

use crate::{Also, PatternHost, Stop, REDACTED};

/// The masking rules for one configuration of the settings.
#[pyclass(frozen, module = "django_reqlog._native")]
pub struct Masker {
    pub(crate) core: crate::Masker,
    /// Every user pattern compiled by Python's `re`, for the text the Rust
    /// regex may not take.
    pub(crate) compiled: Vec<Py<PyAny>>,
}

/// Runs user patterns through Python's `re` (and, for events, routes that
/// are regular expressions through `event.mask_route_params`), and keeps
/// the first error.
pub(crate) struct Host<'a, 'py> {
    py: Python<'py>,
    compiled: &'a [Py<PyAny>],
    route_masker: Option<&'a Py<PyAny>>,
    error: Option<PyErr>,
}

impl<'a, 'py> Host<'a, 'py> {
    pub(crate) fn new(py: Python<'py>, compiled: &'a [Py<PyAny>]) -> Self {
        Host {
            py,
            compiled,
            route_masker: None,
            error: None,
        }
    }

    pub(crate) fn with_routes(mut self, route_masker: &'a Py<PyAny>) -> Self {
        self.route_masker = Some(route_masker);
        self
    }
}

impl PatternHost for Host<'_, '_> {
    fn sub(&mut self, index: usize, text: &str) -> Option<String> {
        let result = self.compiled[index]
            .bind(self.py)
            .call_method1("sub", (REDACTED, text))
            .and_then(|masked| masked.extract::<String>());
        result.map_err(|error| self.error = Some(error)).ok()
    }

    fn mask_route(
        &mut self,
        path: &str,
        route: &str,
        params: &[(&str, &str)],
    ) -> Result<String, Stop> {
        let masker = self.route_masker.ok_or(Stop::Decline)?;
        let params = PyTuple::new(self.py, params.iter().map(|&(name, value)| (name, value)))
            .map_err(|_| Stop::Decline)?;
        let result = masker
            .bind(self.py)
            .call1((path, route, params))
            .and_then(|masked| masked.extract::<String>());
        result.map_err(|error| {
            self.error = Some(error);
            Stop::Host
        })
    }
}

type Outcome = Result<Option<String>, Stop>;

fn owned(masked: Cow<'_, str>) -> Option<String> {
    match masked {
        Cow::Borrowed(_) => None,
        Cow::Owned(changed) => Some(changed),
    }
}

fn also_from(also_sensitive: Option<&Bound<'_, PyAny>>) -> Option<Also> {
    let Some(names) = also_sensitive else {
        return Some(Also::default());
    };
    let names: PyResult<Vec<String>> = names
        .try_iter()
        .ok()?
        .map(|name| name?.extract::<String>())
        .collect();
    Some(Also::new(names.ok()?))
}

impl Masker {
    fn run<'py>(
        &self,
        text: &Bound<'py, PyString>,
        call: impl FnOnce(&crate::Masker, &str, &mut dyn PatternHost) -> Outcome,
    ) -> PyResult<Option<Bound<'py, PyString>>> {
        let Ok(unit) = text.to_str() else {
            return Ok(None);
        };
        let mut host = Host::new(text.py(), &self.compiled);
        match call(&self.core, unit, &mut host) {
            Ok(None) => Ok(Some(text.clone())),
            Ok(Some(masked)) => Ok(Some(PyString::new(text.py(), &masked))),
            Err(Stop::Decline) => Ok(None),
            Err(Stop::Host) => Err(host
                .error
                .take()
                .unwrap_or_else(|| PyRuntimeError::new_err("a value pattern failed"))),
        }
    }
}

#[pymethods]
impl Masker {
    /// `names`: the normalised sensitive names (parts, with
    /// REQLOG_SENSITIVE_FIELDS; last words; endings; whole keys);
    /// `patterns`: (source, flags, compiled) for each
    /// REQLOG_SENSITIVE_VALUE_PATTERNS entry.
    #[new]
    fn new(
        names: (Vec<String>, Vec<String>, Vec<String>, Vec<String>),
        patterns: Vec<(String, u32, Py<PyAny>)>,
    ) -> Self {
        let (parts, last_words, endings, whole_keys) = names;
        let names = crate::keys::Names {
            parts,
            last_words,
            endings,
            whole_keys,
        };
        let sources: Vec<(String, u32)> = patterns
            .iter()
            .map(|(source, flags, _)| (source.clone(), *flags))
            .collect();
        let compiled = patterns
            .into_iter()
            .map(|(_, _, compiled)| compiled)
            .collect();
        Masker {
            core: crate::Masker::new(names, &sources),
            compiled,
        }
    }

    /// The engine of each user pattern: "rust", "rust-ascii" or "python".
    fn pattern_engines(&self) -> Vec<&'static str> {
        self.core.engines()
    }

    fn is_sensitive_key(&self, key: &Bound<'_, PyString>) -> Option<bool> {
        key.to_str().ok().map(|key| self.core.is_sensitive_key(key))
    }

    fn scrub_text<'py>(
        &self,
        text: &Bound<'py, PyString>,
    ) -> PyResult<Option<Bound<'py, PyString>>> {
        self.run(text, |core, unit, host| {
            core.scrub_text(unit, host).map(owned)
        })
    }

    fn scrub_free_text<'py>(
        &self,
        text: &Bound<'py, PyString>,
    ) -> PyResult<Option<Bound<'py, PyString>>> {
        self.run(text, |core, unit, host| {
            core.scrub_free_text(unit, host).map(owned)
        })
    }

    fn scrub_value<'py>(
        &self,
        text: &Bound<'py, PyString>,
    ) -> PyResult<Option<Bound<'py, PyString>>> {
        self.run(text, |core, unit, host| {
            core.scrub_value(unit, host).map(owned)
        })
    }

    #[pyo3(signature = (text, also_sensitive=None))]
    fn mask_json_text<'py>(
        &self,
        text: &Bound<'py, PyString>,
        also_sensitive: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Option<Bound<'py, PyString>>> {
        let Some(also) = also_from(also_sensitive) else {
            return Ok(None);
        };
        self.run(text, |core, unit, host| {
            core.mask_json(unit, &also, host).map(owned)
        })
    }

    /// Form or query pairs: a list of (key, value) string tuples.
    #[pyo3(signature = (pairs, also_sensitive=None))]
    fn mask_pairs<'py>(
        &self,
        pairs: &Bound<'py, PyList>,
        also_sensitive: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Option<Bound<'py, PyList>>> {
        let py = pairs.py();
        let Some(also) = also_from(also_sensitive) else {
            return Ok(None);
        };
        let masked = PyList::empty(py);
        for pair in pairs.iter() {
            let Ok((key, value)) = pair.extract::<(Bound<'py, PyString>, Bound<'py, PyString>)>()
            else {
                return Ok(None);
            };
            let Ok(name) = key.to_str() else {
                return Ok(None);
            };
            let new_value = if self.core.key_is_masked(name, &also) {
                PyString::new(py, REDACTED)
            } else {
                match self.scrub_value(&value)? {
                    Some(new_value) => new_value,
                    None => return Ok(None),
                }
            };
            masked.append(PyTuple::new(py, [key, new_value])?)?;
        }
        Ok(Some(masked))
    }
}

/// The Rust regex the gate makes of a Python pattern, and whether it holds
/// on any text (else on ASCII text only); None when Python's `re` keeps it.
#[pyfunction]
fn translate_pattern(pattern: &str, flags: u32) -> Option<(String, bool)> {
    crate::pattern::translate(pattern, flags)
}

#[pymodule]
fn _native(module: &Bound<'_, PyModule>) -> PyResult<()> {
    module.add_class::<Masker>()?;
    module.add_class::<crate::python_events::Events>()?;
    module.add_function(wrap_pyfunction!(translate_pattern, module)?)?;
    module.add("REDACTED", REDACTED)?;
    Ok(())
}
