import Foundation

/// A DICOM data set: data elements ordered by tag, with nested sequences of items (PS3.5 §7).
///
/// A `Sendable` value type: copies are cheap and share storage until one is changed.
/// The transfer syntax is not part of a data set; it belongs to the file or presentation context.
public struct DataSet: Sendable, Equatable, Sequence {
    /// Elements sorted by ascending tag, no two with the same tag.
    @usableFromInline var storage: [DataElement]

    /// The character set to decode text with when this data set has no Specific Character Set (0008,0005)
    /// of its own: the enclosing data set's for a sequence item, or a caller-chosen fallback.
    public var inheritedCharacterSet: SpecificCharacterSet?

    /// A character set that wins over the declared one, for files that declare one set and contain another.
    public var characterSetOverride: SpecificCharacterSet?

    /// Whether this data set was read as an item with undefined length; the writer can keep it that way.
    public var hadUndefinedLength: Bool = false

    /// The set that this data set's own Specific Character Set (0008,0005) declares, or nil when it has none
    /// or its value is not recognisable. Every change to (0008,0005) resolves it again, so `characterSet`
    /// never parses the value on access.
    private(set) var declaredCharacterSet: SpecificCharacterSet? = nil

    public init() { storage = [] }

    /// A data set from elements in any order; a later element with the same tag replaces an earlier one.
    public init(_ elements: some Sequence<DataElement>) {
        storage = []
        for element in elements { self[element.tag] = element }
    }

    /// Builds a data set from elements already sorted by strictly ascending tag, without checking.
    /// Readers use this after checking the order themselves.
    public init(sortedElements: [DataElement]) {
        storage = sortedElements
        declaredCharacterSet = DataSet.resolveDeclaredCharacterSet(sortedElements)
    }

    public static func == (lhs: DataSet, rhs: DataSet) -> Bool { lhs.storage == rhs.storage }

    /// The number of elements at this level.
    @inlinable public var count: Int { storage.count }
    @inlinable public var isEmpty: Bool { storage.isEmpty }

    /// The elements in tag order.
    @inlinable public var elements: [DataElement] { storage }

    public func makeIterator() -> IndexingIterator<[DataElement]> { storage.makeIterator() }

    /// The position of `tag` in `storage`, or where it would be inserted.
    @inlinable func index(of tag: Tag) -> (index: Int, found: Bool) {
        var low = 0, high = storage.count
        while low < high {
            let mid = (low + high) >> 1
            let midTag = storage[mid].tag.rawValue
            if midTag < tag.rawValue { low = mid + 1 } else if midTag > tag.rawValue { high = mid } else { return (mid, true) }
        }
        return (low, false)
    }

    /// The element with this tag, or nil; assigning nil removes it. Assigning an element with another tag stores it under its own tag.
    public subscript(tag: Tag) -> DataElement? {
        get {
            let (i, found) = index(of: tag)
            return found ? storage[i] : nil
        }
        set {
            if let element = newValue, element.tag != tag {
                remove(tag)
                self[element.tag] = element
                return
            }
            let (i, found) = index(of: tag)
            switch (newValue, found) {
            case (let element?, true): storage[i] = element
            case (let element?, false): storage.insert(element, at: i)
            case (nil, true): storage.remove(at: i)
            case (nil, false): break
            }
            if tag == .specificCharacterSet { declaredCharacterSet = DataSet.resolveDeclaredCharacterSet(storage) }
        }
    }

    /// Whether an element with this tag is present.
    public func contains(_ tag: Tag) -> Bool { index(of: tag).found }

    /// Inserts or replaces an element.
    public mutating func set(_ element: DataElement) { self[element.tag] = element }

    /// Removes the element with this tag and returns it.
    @discardableResult public mutating func remove(_ tag: Tag) -> DataElement? {
        let (i, found) = index(of: tag)
        guard found else { return nil }
        if tag == .specificCharacterSet { declaredCharacterSet = nil }
        return storage.remove(at: i)
    }

    /// Removes every element whose tag satisfies the predicate.
    public mutating func removeAll(where predicate: (Tag) -> Bool) {
        storage.removeAll { predicate($0.tag) }
        if declaredCharacterSet != nil && !contains(.specificCharacterSet) { declaredCharacterSet = nil }
    }

    /// The elements whose tags lie in the range, in tag order (for example one group).
    public func elements(in range: ClosedRange<Tag>) -> ArraySlice<DataElement> {
        let start = index(of: range.lowerBound).index
        var end = start
        while end < storage.count && storage[end].tag <= range.upperBound { end += 1 }
        return storage[start..<end]
    }

    /// The items of a sequence element, or nil when absent or not a sequence.
    public func items(_ tag: Tag) -> [DataSet]? { self[tag]?.items }
}
