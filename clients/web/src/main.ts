// Entry point: replaced by the app shell in the next commits.
document.getElementById('app')!.textContent = 'StudySync';
