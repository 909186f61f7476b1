"""Reports from the case record: billing codes (coding) and the FHIR R4 export (fhir)."""
