/// Patients, orders (requested procedures), the Modality Worklist and MPPS services, and radiology reports.
public enum DICOMWorklist {}
