import DICOMCore
