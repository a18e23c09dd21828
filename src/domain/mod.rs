//! The domain layer: the types every other layer speaks, with no I/O (no files, no database,
//! no network). Behaviours, rows and reject reasons, dates and ranges, the event filter, time
//! zones and the trace clock live here; everything above imports them and nothing here imports
//! anything above. See `docs/architecture.md`.

pub mod alert;
pub mod behavior;
pub mod dates;
pub mod filter;
pub mod journey;
pub mod mapping;
pub mod range;
pub mod rows;
pub mod schedule;
pub mod trace;
pub mod tz;

pub use behavior::BEHAVIORS;
pub use dates::{parse_date, DateError, DateRange, RangeParseError};
pub use filter::{Filter, FilterError, MAX_FILTER_CATEGORIES};
pub use journey::{Journey, JourneyError};
pub use mapping::{Mapping, MappingError};
pub use range::{Range, RangeError, Window};
pub use trace::trace_here;
