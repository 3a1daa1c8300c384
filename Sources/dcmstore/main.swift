print("dcmstore: not built yet")
