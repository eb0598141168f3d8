//! Which host accelerator serves each requested accelerator.

use std::fmt;

/// Requests up to this count keep their assignment inline (no allocation).
pub const INLINE_ASSIGNMENT: usize = 16;

#[derive(Clone)]
enum Slots {
    Inline {
        len: u8,
        slots: [u32; INLINE_ASSIGNMENT],
    },
    Heap(Box<[u32]>),
}

/// The host accelerator serving each requested accelerator: entry `i` is the
/// index, in the host's original `accelerators` list, of the device given
/// to request `i` of the alternative. Distinct requests get distinct devices.
///
/// Up to [`INLINE_ASSIGNMENT`] requests it is stored inline, so finding a
/// match does not allocate.
#[derive(Clone)]
pub struct Assignment {
    slots: Slots,
    greedy: bool,
}

impl Assignment {
    /// Builds an assignment from `len` indices given by `index_of`.
    #[inline]
    pub(crate) fn build(len: usize, greedy: bool, mut index_of: impl FnMut(usize) -> u32) -> Self {
        let slots = if len <= INLINE_ASSIGNMENT {
            let mut slots = [0u32; INLINE_ASSIGNMENT];
            for (i, slot) in slots.iter_mut().enumerate().take(len) {
                *slot = index_of(i);
            }
            Slots::Inline {
                len: len as u8,
                slots,
            }
        } else {
            Slots::Heap((0..len).map(index_of).collect())
        };
        Assignment { slots, greedy }
    }

    fn as_slice(&self) -> &[u32] {
        match &self.slots {
            Slots::Inline { len, slots } => &slots[..usize::from(*len)],
            Slots::Heap(slots) => slots,
        }
    }

    /// The number of requested accelerators.
    pub fn len(&self) -> usize {
        self.as_slice().len()
    }

    /// Whether no accelerator was requested.
    pub fn is_empty(&self) -> bool {
        self.as_slice().is_empty()
    }

    /// The host accelerator (index in the host's list) serving request `i`.
    pub fn get(&self, i: usize) -> Option<usize> {
        self.as_slice().get(i).map(|&j| j as usize)
    }

    /// The host accelerators serving each request, in request order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = usize> + '_ {
        self.as_slice().iter().map(|&j| j as usize)
    }

    /// The host accelerators serving each request, as a vector.
    pub fn to_vec(&self) -> Vec<usize> {
        self.iter().collect()
    }

    /// Whether experimaestro's greedy pairing (largest memory with largest
    /// memory) found this assignment; `false` when it failed and the
    /// bipartite matching found it.
    pub fn is_greedy(&self) -> bool {
        self.greedy
    }
}

impl PartialEq for Assignment {
    fn eq(&self, other: &Self) -> bool {
        self.greedy == other.greedy && self.as_slice() == other.as_slice()
    }
}

impl Eq for Assignment {}

// The inline array's unused tail is left out on purpose.
#[allow(clippy::missing_fields_in_debug)]
impl fmt::Debug for Assignment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Assignment")
            .field("devices", &self.as_slice())
            .field("greedy", &self.greedy)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_and_heap() {
        let small = Assignment::build(3, true, |i| 10 + i as u32);
        assert_eq!(small.to_vec(), vec![10, 11, 12]);
        assert_eq!(small.get(1), Some(11));
        assert_eq!(small.get(3), None);
        assert!(small.is_greedy());
        assert!(matches!(small.slots, Slots::Inline { .. }));
        let big = Assignment::build(40, false, |i| i as u32);
        assert_eq!(big.len(), 40);
        assert!(matches!(big.slots, Slots::Heap(_)));
        assert!(!big.is_greedy());
        let empty = Assignment::build(0, true, |_| 0);
        assert!(empty.is_empty());
        assert_eq!(
            format!("{small:?}"),
            "Assignment { devices: [10, 11, 12], greedy: true }"
        );
        assert_eq!(small, Assignment::build(3, true, |i| 10 + i as u32));
        assert_ne!(small, Assignment::build(3, false, |i| 10 + i as u32));
    }
}
