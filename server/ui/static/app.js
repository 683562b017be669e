// aigate dashboard: small progressive enhancements. Every page works without this file.
'use strict';

document.addEventListener('DOMContentLoaded', () => {
  // Ask before forms that change the policy.
  for (const form of document.querySelectorAll('form[data-confirm]')) {
    form.addEventListener('submit', (event) => {
      if (!window.confirm(form.getAttribute('data-confirm'))) event.preventDefault();
    });
  }
  // Filter selects apply at once.
  for (const select of document.querySelectorAll('select[data-autosubmit]')) {
    select.addEventListener('change', () => select.form && select.form.requestSubmit());
  }
  // After a preview, move focus to its result so keyboard and screen reader users land on it.
  const result = document.getElementById('preview-result');
  if (result) result.focus();
});
