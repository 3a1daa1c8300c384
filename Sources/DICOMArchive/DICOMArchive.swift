/// The archive: storage layout, the JSON index, C-FIND matching and the data lifecycle that `dcmstore` runs.
public enum DICOMArchiveModule {}
